/**
 * The routes' type provider (src/routes/type-provider.ts): request parts are typed from the route
 * schema (checked by `tsc`: a provider that fell back to `any` or `unknown` fails the type assertions
 * below), and validation is fastify's as before.
 */
import Fastify from 'fastify';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { typed } from '../../src/routes/type-provider.ts';

const Body = { type: 'object', properties: { n: { type: 'integer' }, note: { type: 'string' } }, required: ['n'], additionalProperties: false } as const;
const Params = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;
const Query = { type: 'object', properties: { limit: { type: 'integer', default: 5 } } } as const;

describe('QiaoTypeProvider', () => {
  it('types body, params and query from the schemas; validation still refuses bad input', async () => {
    const app = typed(Fastify());
    app.post('/x/:id', { schema: { body: Body, params: Params, querystring: Query } }, async (req) => {
      expectTypeOf(req.body.n).toEqualTypeOf<number>();
      expectTypeOf(req.body.note).toEqualTypeOf<string | undefined>();
      expectTypeOf(req.params.id).toEqualTypeOf<string>();
      // A defaulted property is present after validation.
      expectTypeOf(req.query.limit).toEqualTypeOf<number>();
      return { next: req.body.n + 1, id: req.params.id, limit: req.query.limit };
    });
    const ok = await app.inject({ method: 'POST', url: '/x/a?limit=7', payload: { n: 1 } });
    expect(ok.json()).toEqual({ next: 2, id: 'a', limit: 7 });
    const bad = await app.inject({ method: 'POST', url: '/x/a', payload: { n: 'one' } });
    expect(bad.statusCode).toBe(400);
    await app.close();
  });
});
