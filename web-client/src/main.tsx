/**
 * The Qiao web client: one app for every role, on Preact with @preact/signals. Built ahead by
 * `npm run build:web` (web-client/build/bundle.ts) and served by src/routes/web.ts.
 *
 * Safety rule: server text reaches the page only as JSX children and attributes, which Preact sets as
 * text; the app never sets HTML.
 */
import { render } from 'preact';
import { App } from './app/app.tsx';
import { resume } from './app/session.ts';

void resume();
render(<App />, document.getElementById('app') ?? document.body);
