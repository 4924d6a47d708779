import { isVendingError } from './vending-error';

/**
 * Runs a step that comes before anything is minted for the request (authenticating the caller,
 * the audit key, the SP's Entra ID token a PAT is created with). A 503 it raises is marked as
 * refused before minting, which tells a client that resending the request is safe.
 *
 * Invariant: never wrap a step that mints or may have minted (creating a PAT, the token exchange,
 * the audit write after the mint): a lost or failed answer there may leave a live token behind.
 */
export async function beforeMinting<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (isVendingError(err)) err.markRefusedBeforeMinting();
    throw err;
  }
}
