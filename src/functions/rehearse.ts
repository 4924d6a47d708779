import { HttpRequest, InvocationContext } from '@azure/functions';
import { prepareRehearsal } from '../core/vend/rehearsal';
import type { RehearsalTransports } from '../core/vend/rehearsal';
import type { VendDeps } from '../core/vend';
import { makeRoutes } from './routes';

/**
 * One synthetic vend through the token route's own handler, on the rehearsal's stand-ins (see
 * `prepareRehearsal`): a request object as the Functions worker builds it, a context whose log
 * lines go nowhere. Run at start without being awaited; it never rejects, and its answer is
 * returned only for tests (200 when the whole path ran).
 */
export async function rehearseVend(deps: VendDeps, transports: RehearsalTransports): Promise<number | undefined> {
  try {
    const rehearsal = await prepareRehearsal(deps, transports);
    const token = makeRoutes(rehearsal.deps).find((r) => r.name === 'token');
    if (!token) return undefined;
    const request = new HttpRequest({
      method: 'POST',
      url: 'http://localhost/api/token',
      headers: { authorization: rehearsal.authorization, 'content-type': 'application/json', 'x-forwarded-for': '127.0.0.1', 'x-request-id': 'rehearsal' },
      body: { string: rehearsal.body },
    });
    const context = new InvocationContext({ functionName: token.name, invocationId: 'rehearsal', logHandler: () => undefined });
    const response = await token.handler(request, context);
    return response.status ?? 200;
  } catch {
    // A rehearsal that cannot run leaves the first request as cold as it was, nothing more.
    return undefined;
  }
}
