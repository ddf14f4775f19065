/**
 * Configuration blocks read out of the Markdown docs, so the tests run exactly what a reader copies:
 * fenced blocks opened as ```LANG title="NAME"```. Only the placeholders a doc lists are replaced, and
 * each must be present, so a doc edit that drops one fails the test instead of testing something else.
 */
import { readFileSync } from 'node:fs';

export function docBlocks(path: string): Map<string, string> {
  const blocks = new Map<string, string>();
  const text = readFileSync(path, 'utf8');
  for (const m of text.matchAll(/^```[a-z]+ title="([^"]+)"\n([\s\S]*?)^```$/gm)) {
    if (blocks.has(m[1]!)) throw new Error(`${path}: two blocks titled ${m[1]}`);
    blocks.set(m[1]!, m[2]!);
  }
  return blocks;
}

export function block(blocks: Map<string, string>, title: string): string {
  const found = blocks.get(title);
  if (found === undefined)
    throw new Error(`no block titled "${title}" (have: ${[...blocks.keys()].join(', ')})`);
  return found;
}

/** Replaces every occurrence of each placeholder; throws for one that does not occur. */
export function substitute(text: string, replacements: Readonly<Record<string, string>>): string {
  let out = text;
  for (const [placeholder, value] of Object.entries(replacements)) {
    if (!out.includes(placeholder)) throw new Error(`placeholder ${placeholder} not found in:\n${text}`);
    out = out.split(placeholder).join(value);
  }
  return out;
}
