// Property tests run on one fixed seed by default, so a run of `npm test` (and CI) is
// reproducible; FC_SEED=<n> replays another seed and FC_SEED=random explores new ones
// (the failure message prints the seed and path to replay).
import fc from 'fast-check';

const seed = process.env.FC_SEED ?? '20261207';
if (seed !== 'random') fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: Number(seed) });
