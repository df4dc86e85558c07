// @ts-check
/**
 * `exotrace/import-direction`: which folder of src/ may import which.
 *
 * Options (one object):
 * - `root`: the folder the layers live in, relative to the lint's working directory (`src`).
 * - `layers`: for each folder under `root`, the folders it may import (its own is always allowed).
 *   A folder missing from the table may import nothing outside itself. Files directly in `root`
 *   (`src/index.ts`, the library entry) are named by `"."`.
 * - `allow`: known violations that are being removed, `{ file, imports, why }` (`file` relative to
 *   the working directory, `imports` a folder name): each is allowed for that one file only, so the
 *   list is exactly what remains to fix.
 *
 * Every kind of import counts, a type-only one too: a type import ties the importing folder to the
 * other's vocabulary just as much, and it is where a runtime import starts. So do `import()`,
 * `require(…)`, `createRequire(…)(…)` and `import x = require(…)`, with a string or a template
 * without `${}` as the specifier; a computed `import()` or `require()` is reported, as the rule
 * cannot see where it goes. Only relative specifiers are checked (packages are not folders of
 * src/).
 */
import path from 'node:path';

/** @typedef {{ file: string; imports: string; why: string }} Allowed */
/** @typedef {{ root: string; layers: Record<string, string[]>; allow?: Allowed[] }} Options */

/** @type {import('eslint').Rule.RuleModule} */
const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'a folder of src/ imports only the folders below it (the layer table)' },
    schema: [
      {
        type: 'object',
        properties: {
          root: { type: 'string' },
          layers: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
          allow: {
            type: 'array',
            items: {
              type: 'object',
              properties: { file: { type: 'string' }, imports: { type: 'string' }, why: { type: 'string' } },
              required: ['file', 'imports', 'why'],
              additionalProperties: false,
            },
          },
        },
        required: ['root', 'layers'],
        additionalProperties: false,
      },
    ],
    messages: {
      forbidden: '{{from}} may not import {{to}} (allowed: {{allowed}}): {{specifier}}',
      computed: 'a computed specifier cannot be checked against the layer table: write it as a string',
    },
  },
  create(context) {
    const options = /** @type {Options} */ (context.options[0]);
    const root = path.resolve(context.cwd, options.root);
    const file = path.resolve(context.cwd, context.filename);
    const from = folderOf(root, file);
    if (from === undefined) return {};
    const allowed = options.layers[from] ?? [];
    const relativeFile = toPosix(path.relative(context.cwd, file));
    const excused = new Set(
      (options.allow ?? []).filter((entry) => entry.file === relativeFile).map((entry) => entry.imports),
    );

    /** @param {import('estree').Node} node @param {unknown} specifier */
    function check(node, specifier) {
      if (typeof specifier !== 'string' || !specifier.startsWith('.')) return;
      const to = folderOf(root, path.resolve(path.dirname(file), specifier));
      if (to === undefined || to === from || allowed.includes(to) || excused.has(to)) return;
      context.report({
        node,
        messageId: 'forbidden',
        data: {
          from: label(options.root, from),
          to: label(options.root, to),
          allowed: allowed.length === 0 ? 'nothing outside itself' : allowed.join(', '),
          specifier,
        },
      });
    }

    /** A call's specifier: checked when it is a string, reported when computed. @param {any} node @param {any} argument */
    function checkCall(node, argument) {
      const specifier = specifierOf(argument);
      if (specifier === undefined) context.report({ node, messageId: 'computed' });
      else check(node, specifier);
    }

    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => check(node, node.source?.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => checkCall(node, node.source),
      /** `require('…')`, `createRequire(import.meta.url)('…')`. @param {any} node */
      CallExpression(node) {
        const callee = node.callee;
        const isRequire = callee.type === 'Identifier' && callee.name === 'require';
        const isCreated =
          callee.type === 'CallExpression' &&
          callee.callee.type === 'Identifier' &&
          callee.callee.name === 'createRequire';
        if (isRequire || isCreated) checkCall(node, node.arguments[0]);
      },
      /** `import x = require('…')`. @param {any} node */
      TSImportEqualsDeclaration(node) {
        if (node.moduleReference.type === 'TSExternalModuleReference')
          checkCall(node, node.moduleReference.expression);
      },
      // `import('../x.js').T` in a type position (typescript-eslint's node, unknown to estree).
      /** @param {any} node */
      TSImportType(node) {
        // `source` in newer typescript-eslint (`argument`, deprecated there, in older ones).
        const spec = 'source' in node ? node.source : node.argument;
        const literal = spec?.literal ?? spec;
        check(node, literal?.value);
      },
    };
  },
};

/**
 * The text of a string literal, or of a template literal without expressions; undefined otherwise.
 * @param {any} node
 */
function specifierOf(node) {
  if (node?.type === 'Literal') return typeof node.value === 'string' ? node.value : undefined;
  if (node?.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0]?.value.cooked;
  return undefined;
}

/**
 * The layer a file belongs to: the first folder under `root`, `"."` for a file directly in it,
 * undefined outside `root`.
 * @param {string} root @param {string} file
 */
function folderOf(root, file) {
  const relative = path.relative(root, file);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  const parts = relative.split(path.sep);
  return parts.length === 1 ? '.' : parts[0];
}

/** @param {string} root @param {string} folder */
function label(root, folder) {
  return folder === '.' ? `${root}/*.ts` : `${root}/${folder}`;
}

/** @param {string} p */
function toPosix(p) {
  return p.split(path.sep).join('/');
}

export default rule;
