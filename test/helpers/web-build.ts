/** vitest globalSetup: the browser suites need the web client built ahead (skipped when up to date). */
import { buildWebClient } from '../../web-client/build/bundle.ts';

export default async function setup(): Promise<void> {
  await buildWebClient();
}
