// Option objects handed to the wasm: only the fields it reads (never a whole user object).

/** @internal */
export function authorityOptions(o) {
  return { provider: o.provider, authority: o.authority, tenant: o.tenant, cloud: o.cloud };
}

/** @internal */
export function clientOptions(o) {
  if (!o || typeof o !== 'object') throw new TypeError('options are required ({ clientId, ... })');
  return {
    ...authorityOptions(o),
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    certificate: o.certificate,
    timeoutMs: o.timeoutMs,
    refreshMarginSecs: o.refreshMarginSecs,
  };
}
