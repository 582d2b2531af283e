/** Delivery end to end on an embedded hub: PGlite, MemoryQueue, workers in-process, a local SMTP sink. */
import { startEmbeddedApp } from '../helpers/app.ts';
import { deliverySuite } from './delivery.suite.ts';

deliverySuite('embedded', (env) => startEmbeddedApp(env));
