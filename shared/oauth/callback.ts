/**
 * Rally's OAuth redirect target.
 * @module
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { Deps } from '../app/deps.js';

export function createOAuthCallbackHandler(_deps: Deps) {
  return (req: Request, res: Response): void => {
    if (req.method !== 'GET') {
      res.status(405).set('Allow', 'GET').end();
      return;
    }
    res.status(400).type('text/plain').send('Missing state.');
  };
}
