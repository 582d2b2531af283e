/** The API suite against an embedded hub (PGlite in memory + in-process bus). Always runs. */
import { startEmbeddedApp } from '../helpers/app.ts';
import { apiSuite } from './api.suite.ts';

apiSuite('embedded', () => startEmbeddedApp());
