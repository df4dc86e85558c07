import type { Rule } from 'eslint';

/** See import-direction.js. */
declare const rule: Rule.RuleModule;
export default rule;
