/** Cloud Function `oauthCallback`: Rally's OAuth redirect target, /oauth/callback. */
import { defineFunction } from '../../shared/app/entry.js';
import { createOAuthCallbackHandler } from '../../shared/oauth-as/callback.js';
import { answerPageEdgeError } from '../../shared/oauth-as/edge-answer.js';

export const oauthCallback = defineFunction('oauthCallback', createOAuthCallbackHandler, {
  answerEdgeError: answerPageEdgeError,
});
