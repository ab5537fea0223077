/**
 * Validation of `check:` objects in the agent's configuration: the check
 * engine owns the vocabulary and its validator (`parseCheckConfig`, see
 * docs/checks.md); this adapter reports its problems through the agent's
 * configuration reader, so they carry line numbers like every other one.
 * @module
 */
import { parseCheckConfig, type CheckSpec } from '../checks';
import { type ConfigPath, ConfigReader, formatPath } from './reader';

/**
 * Validates one raw `check:` object. Problems are recorded in `r` with paths
 * under `path`; returns the complete spec, or undefined when it is invalid.
 */
export function validateCheck(r: ConfigReader, raw: unknown, path: ConfigPath): CheckSpec | undefined {
  const result = parseCheckConfig(raw, formatPath(path));
  if (result.ok) return result.check;
  for (const issue of result.errors) r.fail(issue.path, issue.message);
  return undefined;
}
