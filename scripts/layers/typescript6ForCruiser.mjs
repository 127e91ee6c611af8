/**
 * Preload (`node --import`) for dependency-cruiser: it parses TypeScript with the
 * `typescript` package's JavaScript API, which TypeScript 7 (the project's compiler, a
 * native binary) no longer ships, and it accepts only `typescript` < 7. The project also
 * installs TypeScript 6 under the alias `typescript6`; this hook makes the name `typescript`
 * mean that package for dependency-cruiser's own files only, for both the version check
 * (`require('typescript/package.json')`) and the parser (`import('typescript')`).
 * Everything else in the process still resolves `typescript` normally.
 */
import Module, { register } from 'node:module';

const cruiserDir = `${['', 'node_modules', 'dependency-cruiser', ''].join('/')}`;
const renamed = (specifier) =>
  specifier === 'typescript' || specifier.startsWith('typescript/')
    ? `typescript6${specifier.slice('typescript'.length)}`
    : null;

// CommonJS: dependency-cruiser reads the version with createRequire().
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const alias = parent?.filename?.includes(cruiserDir) ? renamed(request) : null;
  return resolveFilename.call(this, alias ?? request, parent, ...rest);
};

// ES modules: dependency-cruiser loads the parser with import().
register(
  `data:text/javascript,${encodeURIComponent(`
    const cruiserDir = ${JSON.stringify(cruiserDir)};
    export async function resolve(specifier, context, next) {
      if (context.parentURL?.includes(cruiserDir) &&
          (specifier === 'typescript' || specifier.startsWith('typescript/'))) {
        return next('typescript6' + specifier.slice('typescript'.length), context);
      }
      return next(specifier, context);
    }
  `)}`,
);
