export default async function globalTeardown() {
  await globalThis.__FIRESTORE_EMULATOR__?.stop();
}
