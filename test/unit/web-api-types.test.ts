/**
 * The web client's REST types are generated from the server's route schemas; this fails while the
 * committed web-client/src/api/schema.d.ts is stale (fix: `npm run gen:api`).
 */
import { describe, expect, it } from 'vitest';
import { generateApiTypes, readCommittedApiTypes } from '../../web-client/build/api-types.ts';

describe('web client API types', () => {
  it('schema.d.ts matches the OpenAPI document of the current routes', async () => {
    const fresh = await generateApiTypes();
    expect(fresh).toContain('"/api/me"');
    expect((await readCommittedApiTypes()) === fresh, 'web-client/src/api/schema.d.ts is stale: run `npm run gen:api`').toBe(true);
  }, 60_000);
});
