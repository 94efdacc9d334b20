/**
 * Test-side access to what global setup provides. Tests read the environment
 * only here.
 */
import { randomBytes } from 'node:crypto';

export function emulatorHost(): string {
  const host = process.env.FIRESTORE_EMULATOR_HOST;
  if (!host) throw new Error('FIRESTORE_EMULATOR_HOST is not set: the jest global setup did not start the emulator');
  return host;
}

/** A fresh `demo-` project id: the emulator keeps projects apart, and no real project has this prefix. */
export function demoProjectId(): string {
  return `demo-rmcp-${randomBytes(5).toString('hex')}`;
}
