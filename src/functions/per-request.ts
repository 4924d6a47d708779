import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { VendDeps } from '../core/vend';

/**
 * Every request runs under the overall budget (DESIGN §7): its handler gets the request's own deps
 * (`VendDeps.forRequest`), whose upstream calls are each bounded by what is left of it.
 */
export function perRequest(deps: VendDeps) {
  return (handle: (deps: VendDeps, request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>): HttpHandler =>
    (request, context) => handle(deps.forRequest?.() ?? deps, request, context);
}
