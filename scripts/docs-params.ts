/**
 * Writes the hyper-parameter tables of docs/models.md from the models' zod schemas (the one
 * place each parameter is declared). test/models/docs-params.test.ts fails when they differ.
 *   npx vite-node scripts/docs-params.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODELS_DOC, modelParamsMarkdown, replaceGenerated } from '../src/pipeline/params-doc.js';
import { writeFileAtomic } from '../src/util/fs.js';

const file = join(new URL('..', import.meta.url).pathname, MODELS_DOC);
writeFileAtomic(file, replaceGenerated(readFileSync(file, 'utf8'), modelParamsMarkdown()));
console.log(`wrote ${MODELS_DOC}`);
