/**
 * Real headless Chromium for the browser suites (Debian `chromium`, driven by playwright-core).
 * `gateChromium` skips loudly when it is missing, or fails when QIAO_REQUIRE_SERVICES=1 (CI).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { requireServices } from './services.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** Without the background-networking flag Chromium keeps dialling out, which this machine refuses. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

export function gateChromium(what: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (requireServices()) {
    throw new Error(`Chromium is required (QIAO_REQUIRE_SERVICES=1) but ${CHROMIUM} does not exist (apt-get install chromium)`);
  }
  console.warn(
    [
      '',
      '!'.repeat(78),
      `!!! SKIPPING ${what}: ${CHROMIUM} not found.`,
      '!!! These tests did NOT run. Install chromium, or set QIAO_REQUIRE_SERVICES=1 to make this a failure.',
      '!'.repeat(78),
      '',
    ].join('\n'),
  );
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
