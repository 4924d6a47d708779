import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';

/** How a client (app registration + service principal) is registered with the local authority. */
export interface ClientRegistration {
  /** Valid client secrets; several at once model a rotation overlap. */
  readonly secrets?: readonly string[];
  /** App roles granted to this client, put in the `roles` claim of its tokens. */
  readonly roles?: readonly string[];
  /** The resources (token `aud` values) `roles` apply to; absent means every resource. */
  readonly roleResources?: readonly string[];
  readonly displayName?: string;
  /** PEM certificates whose private keys may sign client assertions (`private_key_jwt`). */
  readonly certificates?: readonly string[];
  /**
   * Subjects of this authority's own tokens with aud `api://AzureADTokenExchange` accepted as client
   * assertions: the local stand-in for a federated identity credential.
   */
  readonly federatedSubjects?: readonly string[];
  /** The service principal's object id; random and stable for the sandbox when absent. */
  readonly objectId?: string;
  /** Application id URIs (an API's `api://…`): audiences of tokens issued to this app, besides its client id. */
  readonly identifierUris?: readonly string[];
}

export interface RegisteredClient {
  readonly clientId: string;
  readonly objectId: string;
  readonly displayName?: string;
  secrets: readonly string[];
  readonly roles: readonly string[];
  readonly roleResources?: readonly string[];
  readonly certificates: readonly string[];
  readonly federatedSubjects: readonly string[];
  readonly identifierUris: readonly string[];
}

export function toRegisteredClient(clientId: string, reg: ClientRegistration): RegisteredClient {
  return {
    clientId,
    objectId: reg.objectId ?? randomUUID(),
    displayName: reg.displayName,
    secrets: [...(reg.secrets ?? [])],
    roles: [...(reg.roles ?? [])],
    roleResources: reg.roleResources ? [...reg.roleResources] : undefined,
    certificates: [...(reg.certificates ?? [])],
    federatedSubjects: [...(reg.federatedSubjects ?? [])],
    identifierUris: [...(reg.identifierUris ?? [])],
  };
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Constant-time over equal-length digests, so the comparison says nothing about the secret. */
export function secretMatches(client: RegisteredClient, presented: string): boolean {
  const wanted = digest(presented);
  let match = false;
  for (const secret of client.secrets) match = timingSafeEqual(digest(secret), wanted) || match;
  return match;
}

export function rolesFor(client: RegisteredClient, resource: string): readonly string[] {
  const applies = !client.roleResources || client.roleResources.includes(resource);
  return applies ? client.roles : [];
}
