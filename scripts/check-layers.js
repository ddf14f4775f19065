#!/usr/bin/env node
// Checks that imports between the folders of src/ point one way: down the layer order below. Fails on
//   (a) an import from a folder ranked above the importing one (or from a folder not in the order),
//   (b) a cycle between folders (two folders in the same rank importing each other),
//   (c) a cycle between files, `import type` included: a type-only cycle is still a cycle a reader has to
//       untangle, and it becomes a runtime one the day someone imports a value.
// Reads the .ts sources (not dist/, where `import type` is gone). Part of `npm run lint` and `npm test`.
// Usage: node scripts/check-layers.js [--root DIR] [--graph]
//   --root DIR  check DIR/src instead of this checkout's src/ (the tests plant faults in a temp tree)
//   --graph     print the folder-level edges instead of checking
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// The layer order, lowest first. A folder may import from folders in lower ranks only; folders sharing a
// rank (an inner array) are siblings and must not import each other. src/index.ts, the package's root
// entry, sits above everything. README.md's "Layout" paragraph describes the same order.
//   settings sits above server and observability because the registry declares every setting with the
//   parser, default and hook types of the layer it configures; those layers take what they need as their
//   own option types (server.ts's ServerSettings), never the registry.
//   supervisor sits above bridge: it spawns and replaces the worker processes the bridge talks to, and
//   the Python backend (supervisor/python-backend.ts) puts the two together behind the Backend interface.
export const LAYERS = [
  ['contract'], //       PEP 3333 on the TS side: types, rules, validator
  ['errors'], //         the error registry: NODICORN_ERR_* codes, their classes and docs
  ['http'], //           sans-I/O request mapping: targets, environ, proxy headers, reason phrases
  ['observability'], //  logger, access log, diagnostics channels, metrics, StatsD
  ['server'], //         node:http/http2 front, response writers, the Backend interface, in-process backend
  ['settings'], //       the registry, parsers, config files, gunicorn.conf.py name mapping, app references
  ['bridge'], //         the Python side seen from TS: frame protocol, worker process, fork server, dispatch
  ['supervisor'], //     restart policy (pure) and its shell, reload watcher, the Python backend
  ['fronts'], //         --fronts: the primary that binds and forks front processes, and a front's link to it
  ['toolkit'], //        writing TS WSGI apps: request/response views, router, middleware
  ['testing', 'adapters'], // calling apps without a server; Fetch and Node (req, res) adapters
  ['cli'], //            main(), argv from the registry, help and generated docs
];

const root = (() => {
  const i = process.argv.indexOf('--root');
  return i >= 0 ? resolve(process.argv[i + 1] ?? '.') : fileURLToPath(new URL('..', import.meta.url));
})();

/**
 * The module specifiers a TypeScript source imports: static imports and re-exports (`type` ones
 * included), side-effect imports, dynamic `import('…')` and `typeof import('…')`. A small tokenizer
 * rather than a regex over the text, so that imports quoted in comments, strings or templates are not
 * counted.
 */
export function importSpecifiers(source) {
  const tokens = tokenize(source);
  const specifiers = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== 'word' || (t.text !== 'import' && t.text !== 'export')) continue;
    if (tokens[i - 1]?.text === '.') continue; // obj.import
    const next = tokens[i + 1];
    if (t.text === 'import' && next?.kind === 'string') {
      specifiers.push(next.text);
      continue;
    }
    if (t.text === 'import' && next?.text === '(' && tokens[i + 2]?.kind === 'string') {
      specifiers.push(tokens[i + 2].text);
      continue;
    }
    if (next?.text === '.' || next?.text === '(') continue; // import.meta, import(expr)
    // import/export … from '…': scan the clause up to `from` and its string; a `;` or a declaration
    // keyword (export const …) ends the search.
    let depth = 0;
    for (let j = i + 1; j < tokens.length; j++) {
      const u = tokens[j];
      if (u.text === '{') depth++;
      else if (u.text === '}') depth--;
      else if (depth === 0 && u.text === ';') break;
      else if (depth === 0 && u.kind === 'word' && u.text === 'from' && tokens[j + 1]?.kind === 'string') {
        specifiers.push(tokens[j + 1].text);
        break;
      } else if (depth === 0 && u.kind === 'word' && DECLARATIONS.has(u.text)) break;
      if (depth === 0 && tokens[j - 1]?.text === '}' && u.text !== 'from') break; // export { a };
    }
  }
  return specifiers;
}

const DECLARATIONS = new Set([
  'const',
  'let',
  'var',
  'function',
  'class',
  'interface',
  'enum',
  'default',
  'abstract',
  'async',
  'declare',
  'namespace',
]);

// After these tokens a `/` starts a regular expression, elsewhere it divides.
const BEFORE_REGEX = new Set([
  '(',
  ',',
  '=',
  ':',
  '[',
  '!',
  '&',
  '|',
  '?',
  '{',
  '}',
  ';',
  '+',
  '-',
  '*',
  '%',
]);
const KEYWORDS_BEFORE_REGEX = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'void',
  'yield',
]);

function tokenize(src) {
  const tokens = [];
  let i = 0;
  const n = src.length;
  // Template literals nest through ${ … }: the stack holds the brace depth at which each one resumes.
  const templates = [];
  let braces = 0;
  const readTemplate = () => {
    // i is just past ` or past the } closing a ${ … }
    while (i < n) {
      const c = src[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        i++;
        return;
      } else if (c === '$' && src[i + 1] === '{') {
        i += 2;
        templates.push(braces);
        braces++;
        return;
      } else i++;
    }
  };
  while (i < n) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') {
      const end = src.indexOf('\n', i);
      i = end < 0 ? n : end;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let text = '';
      while (j < n && src[j] !== c && src[j] !== '\n') {
        if (src[j] === '\\') j++;
        else text += src[j];
        j++;
      }
      tokens.push({ kind: 'string', text });
      i = j + 1;
    } else if (c === '`') {
      i++;
      readTemplate();
      tokens.push({ kind: 'template', text: '`' });
    } else if (c === '/') {
      const prev = tokens[tokens.length - 1];
      const regex =
        prev === undefined ||
        (prev.kind === 'punct' && BEFORE_REGEX.has(prev.text)) ||
        (prev.kind === 'word' && KEYWORDS_BEFORE_REGEX.has(prev.text));
      if (regex) {
        let j = i + 1;
        let inClass = false;
        while (j < n && src[j] !== '\n') {
          if (src[j] === '\\') j++;
          else if (src[j] === '[') inClass = true;
          else if (src[j] === ']') inClass = false;
          else if (src[j] === '/' && !inClass) break;
          j++;
        }
        i = j + 1;
        while (i < n && /[a-z]/i.test(src[i])) i++;
        tokens.push({ kind: 'regex', text: '/' });
      } else {
        tokens.push({ kind: 'punct', text: '/' });
        i++;
      }
    } else if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(src[j])) j++;
      tokens.push({ kind: 'word', text: src.slice(i, j) });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(src[j])) j++;
      tokens.push({ kind: 'number', text: src.slice(i, j) });
      i = j;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      if (c === '{') braces++;
      else if (c === '}') {
        braces--;
        if (templates.length > 0 && templates[templates.length - 1] === braces) {
          templates.pop();
          i++;
          readTemplate();
          continue;
        }
      }
      tokens.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return tokens;
}

function listSources(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listSources(path));
    else if (/\.(c|m)?ts$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The folder of src/ a file belongs to ('' for files at the top of src/). */
const folderOf = (srcDir, file) => {
  const parts = relative(srcDir, file).split(sep);
  return parts.length > 1 ? parts[0] : '';
};

/** Resolves a relative specifier (`./x.js`, written for NodeNext) to the .ts file it names. */
function resolveSource(from, specifier, known) {
  const target = resolve(dirname(from), specifier);
  const candidates = [
    target,
    target.replace(/\.js$/, '.ts'),
    target.replace(/\.mjs$/, '.mts'),
    target.replace(/\.cjs$/, '.cts'),
    join(target, 'index.ts'),
  ];
  return candidates.find((c) => known.has(c));
}

/** Every file → file edge inside src/ (relative imports of .ts files; packages and node:* are not edges). */
export function importGraph(srcDir) {
  const files = listSources(srcDir);
  const known = new Set(files);
  const edges = new Map(files.map((f) => [f, []]));
  for (const file of files) {
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolveSource(file, spec, known);
      if (target !== undefined && !edges.get(file).includes(target)) edges.get(file).push(target);
    }
  }
  return edges;
}

/** Strongly connected components with more than one node (or a self-loop), by Tarjan's algorithm. */
export function cycles(graph) {
  let index = 0;
  const indices = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (v) => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), indices.get(w)));
    }
    if (low.get(v) === indices.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) visit(v);
  return found;
}

/** The problems in DIR/src, as messages; empty when every arrow points down. */
export function checkLayers(dir, layers = LAYERS) {
  const srcDir = join(dir, 'src');
  const rank = new Map();
  layers.forEach((names, r) => {
    for (const name of names) rank.set(name, r);
  });
  rank.set('', layers.length); // src/index.ts re-exports the public API
  const graph = importGraph(srcDir);
  const problems = [];
  const rel = (f) => relative(dir, f);
  const folderGraph = new Map();
  for (const [from, targets] of graph) {
    const a = folderOf(srcDir, from);
    if (!rank.has(a)) problems.push(`${rel(from)}: folder src/${a} is not in the layer order`);
    for (const to of targets) {
      const b = folderOf(srcDir, to);
      if (a === b) continue;
      if (!folderGraph.has(a)) folderGraph.set(a, new Set());
      folderGraph.get(a).add(b);
      if (rank.has(a) && rank.has(b) && rank.get(b) >= rank.get(a)) {
        const how = rank.get(b) === rank.get(a) ? 'a sibling in the same layer as' : 'a layer above';
        problems.push(`upward import: ${rel(from)} imports ${rel(to)} (src/${b} is ${how} src/${a})`);
      }
    }
  }
  const folders = new Map([...folderGraph].map(([k, v]) => [k, [...v]]));
  for (const component of cycles(folders)) {
    problems.push(`folder cycle: ${component.map((f) => `src/${f}`).join(' ↔ ')}`);
  }
  for (const component of cycles(graph)) {
    problems.push(`file cycle: ${component.map(rel).join(' ↔ ')}`);
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--graph')) {
    const srcDir = join(root, 'src');
    const lines = new Set();
    for (const [from, targets] of importGraph(srcDir)) {
      for (const to of targets) {
        const a = folderOf(srcDir, from);
        const b = folderOf(srcDir, to);
        if (a !== b) lines.add(`${a || 'index.ts'} -> ${b}`);
      }
    }
    console.log([...lines].sort().join('\n'));
  } else {
    const problems = checkLayers(root);
    for (const p of problems) console.error(p);
    if (problems.length > 0) {
      console.error(
        `check-layers: ${problems.length} problem(s); the layer order is in scripts/check-layers.js`,
      );
      process.exit(1);
    }
    console.log(`check-layers: ok (${LAYERS.map((l) => l.join('|')).join(' < ')} < index.ts)`);
  }
}
