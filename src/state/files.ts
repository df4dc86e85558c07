/**
 * Where the state's files may live, and how they are opened: in a folder no other local user can
 * write to, and never through a symbolic link. A collector often runs as root or as a service user;
 * another user able to plant `stateDir/exotrace.db -> /etc/something` would have it write its
 * database (message metadata) wherever they chose, or read it back from where they can.
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  openSync,
  statSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';

import { StateStoreError } from './errors.js';

/** Permission bits are meaningless on Windows (ACLs decide there). */
const POSIX = process.platform !== 'win32';

/** The place of the state was refused: nothing was opened or written. */
function unsafe(message: string): StateStoreError {
  return new StateStoreError(message, { code: 'unsafe_location' });
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Refuse a state folder that every local user can write to (world-writable, sticky or not), or
 * that belongs to another user than this process's (root aside): its owner can put links in it
 * whatever its mode (and change the mode), between our checks and SQLite opening its files by name.
 */
export function checkStateDir(dir: string): void {
  if (!POSIX) return;
  // stat, not lstat: stateDir itself may be a link an administrator made (/var/lib/x -> /data/x).
  const { mode, uid } = statSync(dir);
  const self = process.getuid?.();
  if (self !== undefined && uid !== self && uid !== 0) {
    throw unsafe(
      `state directory ${dir} belongs to another user (uid ${uid}, this process runs as uid ${self}): its owner could put a link there and have exotrace write its state anywhere. Run exotrace as that user (e.g. sudo -u '#${uid}' exotrace …), or give the folder to this one (chown)`,
    );
  }
  if ((mode & 0o002) !== 0) {
    throw unsafe(
      `state directory ${dir} is writable by every local user (mode ${octal(mode)}): another user could put a link there and have exotrace write its state anywhere. Make it private (chmod 700 ${dir}), or set stateDir to a folder of its own`,
    );
  }
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch (error) {
    if (error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Refuse state files that are links (symbolic, or a hard link to a file elsewhere) or not regular
 * files: SQLite would open them, and write, wherever they point.
 */
export function refuseLinkedFiles(files: readonly string[]): void {
  for (const file of files) {
    const entry = lstatOrUndefined(file);
    if (entry === undefined) continue;
    if (entry.isSymbolicLink()) {
      throw unsafe(
        `${file} is a symbolic link: exotrace never follows links for its state files (whoever made it chooses where the state is written). Remove the link, and put the file itself there if it is yours`,
      );
    }
    if (!entry.isFile()) {
      throw unsafe(`${file} is not a regular file: remove it, or set stateDir to another folder`);
    }
    if (POSIX && entry.nlink > 1) {
      throw unsafe(
        `${file} has ${entry.nlink} hard links: it is also another file, which the state would overwrite. Remove the other links (or copy the file to a new one)`,
      );
    }
  }
}

/**
 * Create the database file ourselves (mode 0600: SQLite would use the umask, often 0644), without
 * following a link put there between the check and the open.
 */
export function createStateFile(file: string): void {
  const nofollow = POSIX ? constants.O_NOFOLLOW : 0;
  try {
    closeSync(openSync(file, constants.O_RDWR | constants.O_CREAT | nofollow, 0o600));
  } catch (error) {
    if (error instanceof Error && (error as NodeJS.ErrnoException).code === 'ELOOP') {
      refuseLinkedFiles([file]);
    }
    throw error;
  }
}

/**
 * What opening the state in `dir` would refuse, found without creating or writing anything (for
 * `config check`): a folder others can write to or that is not a folder, linked state files, a
 * folder (or, when it does not exist yet, the folder it would be created in) this process cannot
 * write to. Returns whether `dir` holds a state file already.
 */
export function inspectStateDir(dir: string, stateFiles: readonly string[]): { readonly exists: boolean } {
  if (!existsSync(dir)) {
    let parent = path.dirname(dir);
    while (!existsSync(parent) && path.dirname(parent) !== parent) parent = path.dirname(parent);
    assertWritableFolder(parent, `state directory ${dir} does not exist and cannot be created in ${parent}`);
    return { exists: false };
  }
  if (!statSync(dir).isDirectory()) {
    throw unsafe(`state directory ${dir} is not a folder: set stateDir to a folder`);
  }
  checkStateDir(dir);
  refuseLinkedFiles(stateFiles);
  assertWritableFolder(dir, `state directory ${dir} is not writable by this user`);
  const [database] = stateFiles;
  return { exists: database !== undefined && existsSync(database) };
}

function assertWritableFolder(dir: string, what: string): void {
  try {
    if (!statSync(dir).isDirectory()) throw unsafe(`${what}: ${dir} is not a folder`);
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    if (error instanceof StateStoreError) throw error;
    throw new StateStoreError(
      `${what} (permission denied): run exotrace as the user that owns it, or set stateDir`,
      { code: 'permission_denied', cause: error },
    );
  }
}
