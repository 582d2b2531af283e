// Placeholder until the web client plugin lands (being written in parallel).
import type { FastifyInstance } from 'fastify';
export default async function webRoutes(_app: FastifyInstance, _opts: { devBundle?: boolean }): Promise<void> {}
