/**
 * The ids of the upstream providers this build knows (issue 19). Kept here, below every layer,
 * because configuration (which enables some of them), stored records (which name theirs) and the
 * provider interface (shared/upstream/provider.ts) all spell them. A new provider adds its id here.
 * @module
 */
export const UPSTREAM_PROVIDER_IDS = ['rally', 'github'] as const;
export type UpstreamProviderId = (typeof UPSTREAM_PROVIDER_IDS)[number];

/** The provider whose sign-in creates our grants; a record that names none belongs to it. */
export const PRIMARY_PROVIDER = 'rally' satisfies UpstreamProviderId;
