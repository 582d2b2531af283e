/**
 * `npm run gen:docs`: writes the generated parts of the protocol documents — the close-code tables in
 * docs/protocol.md and docs/asyncapi.json (from src/gateway/protocol.ts). Tests fail when the
 * committed files differ from what this would write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { asyncApiJson } from './asyncapi.ts';
import { withCloseTable } from './close-code-table.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const protocolMd = `${root}docs/protocol.md`;
const doc = withCloseTable(readFileSync(protocolMd, 'utf8'));
if (doc === undefined) throw new Error('docs/protocol.md lost its close-codes markers');
writeFileSync(protocolMd, doc);
writeFileSync(`${root}docs/asyncapi.json`, asyncApiJson());
process.stdout.write('wrote docs/protocol.md (close codes) and docs/asyncapi.json\n');
