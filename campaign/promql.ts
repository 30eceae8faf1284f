/**
 * PromQL assertions: evaluate an instant query against a Prometheus server's HTTP API
 * (`GET /api/v1/query?query=...&time=...`) at the end of a step. Vector and scalar results give
 * one number per series; anything else, an HTTP error or a timeout is reported as an error (the
 * assertion then fails with the reason, never passes).
 */
export interface PromqlOutcome {
  values: number[] | null;
  error?: string;
}

export async function queryPrometheus(baseUrl: string, query: string, atMs: number, opts: { timeoutMs?: number; fetchImpl?: typeof fetch } = {}): Promise<PromqlOutcome> {
  const url = new URL('/api/v1/query', baseUrl);
  url.searchParams.set('query', query);
  url.searchParams.set('time', (atMs / 1000).toFixed(3));
  try {
    const res = await (opts.fetchImpl ?? fetch)(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
    const body = (await res.json()) as { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
    if (!res.ok || body.status !== 'success') return { values: null, error: `Prometheus answered ${res.status}: ${body.error ?? 'error'}` };
    const data = body.data ?? {};
    if (data.resultType === 'scalar') return { values: [Number((data.result as [number, string])[1])] };
    if (data.resultType === 'vector') {
      return { values: (data.result as { value: [number, string] }[]).map((s) => Number(s.value[1])) };
    }
    return { values: null, error: `unsupported result type '${data.resultType ?? '?'}' (use an instant vector or scalar)` };
  } catch (e) {
    return { values: null, error: `cannot query ${url.origin}: ${(e as Error).message}` };
  }
}
