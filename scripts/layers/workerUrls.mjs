/**
 * Worker URLs: `new URL('./worker.ts', import.meta.url)` names a module that runs as a worker
 * thread or child script. It is a dependency like an import, but no import syntax says so, so
 * dependency-cruiser misses it; this finds them in a file's syntax tree (TypeScript's parser,
 * not a regex, so strings and comments that merely look like one do not count).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript6';

const CODE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;

function isImportMetaUrl(node) {
  return (
    node !== undefined &&
    ts.isPropertyAccessExpression(node) &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword &&
    node.name.text === 'url'
  );
}

/**
 * A worker URL that names the build's output (`./verifyWorker.mjs`, bundled from
 * `verifyWorker.ts`) stands for its source, the way TypeScript maps `.js` imports to `.ts`.
 */
function resolveWorker(root, target) {
  const candidates = [target];
  const built = /\.(m|c)?js$/.exec(target);
  if (built) {
    const stem = target.slice(0, built.index);
    candidates.push(...['.ts', '.tsx', '.mts', '.cts'].map((ext) => stem + ext));
  }
  const found = candidates.find((candidate) => existsSync(path.join(root, candidate)));
  return found ? { to: found, resolvable: true } : { to: target, resolvable: false };
}

/**
 * The code modules `source` (repo-relative, posix) names with literal worker URLs:
 * `{ from, to, resolvable }` with `to` repo-relative. URLs of data files (package.json,
 * fixtures' .bin files, directories) are not code and are left out.
 */
export function findWorkerUrls(root, source) {
  const text = readFileSync(path.join(root, source), 'utf8');
  if (!text.includes('import.meta.url')) return [];
  const file = ts.createSourceFile(source, text, ts.ScriptTarget.Latest, true);
  const edges = [];
  const visit = (node) => {
    if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'URL' &&
      node.arguments?.length === 2 &&
      (ts.isStringLiteral(node.arguments[0]) ||
        ts.isNoSubstitutionTemplateLiteral(node.arguments[0])) &&
      isImportMetaUrl(node.arguments[1])
    ) {
      const target = path.posix.normalize(
        path.posix.join(path.posix.dirname(source), node.arguments[0].text),
      );
      if (CODE.test(target)) edges.push({ from: source, ...resolveWorker(root, target) });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return edges;
}
