/** Cloud Function `protectedResourceMetadata`: RFC 9728 documents under /.well-known/oauth-protected-resource. */
import { defineFunction } from '../../shared/app/entry.js';
import { createProtectedResourceMetadataHandler } from '../../shared/oauth-as/protected-resource.js';
import { answerOAuthJsonEdgeError } from '../../shared/oauth-as/edge-answer.js';

export const protectedResourceMetadata = defineFunction(
  'protectedResourceMetadata',
  createProtectedResourceMetadataHandler,
  {
    answerEdgeError: answerOAuthJsonEdgeError,
  },
);
