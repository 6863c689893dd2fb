// A real OpenID Connect provider for the sign-in tests: the certified `oidc-provider` package
// (npm; installed by scripts/run-tests into tests/oidc/node_modules) on 127.0.0.1.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG: {"port": 4001, "clients": [...client metadata...], "users": "users.json",
//          "accessTokenTTL": 60}
// users.json: {"alice": {"name": "Alice", "groups": ["sports-desk"]}, ...}, read again at each
// sign-in and token (a test removes a group by rewriting it). Sign-in is the package's own
// development login form (any password; the login must be a user of users.json); consent is
// given at once. Access tokens are JWTs (resource indicators) whose audience is "newsdesk" for the
// default resource and the resource itself for any other; they and the ID tokens carry `groups`.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const DEFAULT_RESOURCE = 'urn:newsdesk:api';
const SCOPES = 'openid profile groups offline_access';

// the client 'newsdesk-short' gets access tokens that live 1 s (the expired-token test)
function accessTokenTTL(client) {
  return client.clientId === 'newsdesk-short' ? 1 : config.accessTokenTTL ?? 60;
}

function users() {
  return JSON.parse(readFileSync(config.users, 'utf8'));
}

async function findAccount(_ctx, id) {
  const user = users()[id];
  if (!user) return undefined;
  return {
    accountId: id,
    async claims() {
      const now = users()[id] ?? { groups: [] };
      return { sub: id, name: now.name ?? id, groups: now.groups ?? [] };
    },
  };
}

const provider = new Provider(issuer, {
  clients: config.clients,
  findAccount,
  claims: { openid: ['sub'], profile: ['name'], groups: ['groups'] },
  scopes: SCOPES.split(' '),
  cookies: { keys: ['newsdesk-test-cookie-key'] },
  pkce: { required: () => true },
  conformIdTokenClaims: false, // the ID token carries the claims of its scopes (groups)
  ttl: { AccessToken: (_ctx, _token, client) => accessTokenTTL(client), IdToken: 3600, RefreshToken: 3600, Session: 3600, Grant: 3600, Interaction: 600 },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? DEFAULT_RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resource, client) => ({
        scope: SCOPES,
        audience: resource === DEFAULT_RESOURCE ? 'newsdesk' : resource,
        accessTokenTTL: accessTokenTTL(client),
        accessTokenFormat: 'jwt',
      }),
    },
  },
  extraTokenClaims: async (ctx, token) => {
    const account = await findAccount(ctx, token.accountId);
    return account ? { groups: (await account.claims()).groups } : undefined;
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(SCOPES);
    const resource = ctx.oidc.params.resource;
    for (const each of new Set([DEFAULT_RESOURCE, ...(resource ? [resource].flat() : [])])) {
      grant.addResourceScope(each, SCOPES);
    }
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
provider.on('grant.error', (_ctx, err) => console.error('grant.error', err.message, err.error_description));
provider.listen(config.port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
