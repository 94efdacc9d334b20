/** Cloud Function `authorization`: our OAuth 2.1 authorization server for MCP clients. */
import { defineFunction } from '../../shared/app/entry.js';
import { createAuthorizationHandler } from '../../shared/oauth-as/authorization-server.js';
import { answerAuthorizationEdgeError } from '../../shared/oauth-as/edge-answer.js';

export const authorization = defineFunction('authorization', createAuthorizationHandler, {
  answerEdgeError: answerAuthorizationEdgeError,
});
