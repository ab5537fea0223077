/**
 * Reads the agent's configuration file: YAML (JSON is accepted too, being
 * YAML's subset in practice), validated before anything uses it. Problems
 * carry the line they point at.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { ConfigProblem, ConfigPath } from './reader';
import type { AgentConfig } from './types';
import { ConfigError, validateConfig } from './validate';

/**
 * Parses and validates configuration text. Throws {@link ConfigError} naming
 * every problem (syntax errors, duplicate keys, schema violations).
 */
export function parseConfig(text: string, source = 'configuration'): AgentConfig {
  const lines = new LineCounter();
  // uniqueKeys: a key given twice is an error, not "the last one wins".
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        // The pretty message repeats the position ("… at line 2, column 1:") and quotes the source: keep the words.
        const first = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
        const p: ConfigProblem = { path: '(syntax)', segments: [], message: first };
        const line = e.linePos?.[0]?.line;
        if (line !== undefined) p.line = line;
        return p;
      }),
    );
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const result = validateConfig(raw);
  if (result.problems) {
    for (const p of result.problems) {
      const line = lineOf(doc, lines, p.segments);
      if (line !== undefined) p.line = line;
    }
    throw new ConfigError(source, result.problems);
  }
  return result.config;
}

/** Reads and validates a configuration file. */
export async function loadConfig(file: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError(file, [{ path: '(file)', segments: [], message: `cannot be read: ${err.code ?? ''} ${err.message}`.trim() }]);
  }
  return parseConfig(text, file);
}

/** The line of the deepest node that exists on `path` (a missing key points at its parent). */
function lineOf(doc: Document, lines: LineCounter, path: ConfigPath): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const seg = path.slice(0, n);
    const node = n === 0 ? doc.contents : doc.getIn(seg, true);
    if (isNode(node) && node.range) {
      // For a key, point at the key itself rather than its value.
      if (n > 0 && n === path.length) {
        const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
        const pair = (parent as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | null)?.items?.find(
          (it) => it.key && (it.key as { value?: unknown }).value === seg[n - 1],
        );
        if (pair?.key?.range) return lines.linePos(pair.key.range[0]).line;
      }
      return lines.linePos(node.range[0]).line;
    }
  }
  return undefined;
}
