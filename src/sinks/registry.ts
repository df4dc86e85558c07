/**
 * Which sink an output's `type` builds, and what every output of a configuration is created with.
 * The only module that knows every sink.
 */
import type { Config, OutputConfig } from '../config/load.js';
import { createElasticsearchSink } from './elasticsearch.js';
import { createFileSink } from './file.js';
import { createHttpSink } from './http.js';
import { createKafkaSink } from './kafka.js';
import { createSekoiaSink } from './sekoia.js';
import { createSplunkHecSink } from './splunk-hec.js';
import { createStdoutSink } from './stdout.js';
import { createSyslogSink } from './syslog.js';
import type { Sink, SinkIo, SinkNotice } from './types.js';

/**
 * What every output of a configuration is created with: its `http` settings, and the log its
 * notices go to (the collector's log, `noticeLogger` in observe/telemetry.ts: a file truncated, replaced or rotated; a syslog receiver reconnected), so that
 * nothing a sink does to the output goes unsaid.
 */
export function sinkIoOf(config: Pick<Config, 'http'>, onNotice?: (notice: SinkNotice) => void): SinkIo {
  return {
    timeoutMs: config.http.timeoutMs,
    ...(onNotice === undefined ? {} : { onNotice }),
    ...(config.http.proxy === undefined ? {} : { proxyUrl: config.http.proxy }),
  };
}

/** The config's `http` settings, for the outputs that speak HTTP. */
function networkIo(io: SinkIo): { proxyUrl?: string; timeoutMs?: number } {
  return {
    ...(io.proxyUrl === undefined ? {} : { proxyUrl: io.proxyUrl }),
    ...(io.timeoutMs === undefined ? {} : { timeoutMs: io.timeoutMs }),
  };
}

export function createSink(output: OutputConfig, io: SinkIo = {}): Sink {
  switch (output.type) {
    case 'file':
      return createFileSink({
        name: output.name,
        path: output.path,
        ...(output.rotateBytes === undefined ? {} : { rotateBytes: output.rotateBytes }),
        ...(io.onNotice === undefined ? {} : { onNotice: io.onNotice }),
      });
    case 'stdout':
      return createStdoutSink({
        name: output.name,
        ...(io.stdout === undefined ? {} : { stream: io.stdout }),
      });
    case 'elasticsearch':
      return createElasticsearchSink(output, networkIo(io));
    case 'http':
      return createHttpSink(output, networkIo(io));
    case 'splunk-hec':
      return createSplunkHecSink(output, networkIo(io));
    case 'sekoia':
      return createSekoiaSink(output, networkIo(io));
    case 'syslog':
      return createSyslogSink(output, io);
    case 'kafka':
      return createKafkaSink(output);
  }
}
