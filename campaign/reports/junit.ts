/**
 * JUnit XML: one <testsuite> per step, one <testcase> per assertion (including the automatic
 * in-effect and conformance ones), a <failure> with the measured value when it does not hold, and
 * an <error> on every case of a step that could not run. Then, for every hook that handed in a
 * JUnit file, a <testsuite> of its own (`CAMPAIGN.STEP.hook.HOOK`) with the file's test cases as
 * the hook reported them (classname and name kept; a failed case gets a <failure> with its
 * message). Built with fast-xml-parser's XMLBuilder (escaping done by the library).
 */
import { XMLBuilder } from 'fast-xml-parser';
import type { CampaignResult } from '../result.js';

export function renderJunit(r: CampaignResult): string {
  const suites = r.steps.map((s) => {
    const failures = s.assertions.filter((a) => !a.passed).length;
    return {
      '@_name': `${r.campaign}.${s.name}`,
      '@_tests': s.assertions.length,
      '@_failures': s.error ? 0 : failures,
      '@_errors': s.error ? s.assertions.length : 0,
      '@_time': ((s.endMs - s.startMs) / 1000).toFixed(3),
      '@_timestamp': new Date(s.startMs).toISOString(),
      testcase: s.assertions.map((a) => {
        const tc: Record<string, unknown> = {
          '@_classname': `${r.campaign}.${s.name}.${a.scope}`,
          '@_name': a.scope === 'probe' || a.scope === 'hook' ? `${a.target}: ${a.text}` : a.text,
          '@_time': '0',
        };
        if (s.error) tc['error'] = { '@_message': s.error, '#text': s.error };
        else if (!a.passed) tc['failure'] = { '@_message': a.message, '@_type': 'AssertionFailed', '#text': a.message };
        tc['system-out'] = a.message;
        return tc;
      }),
    };
  });
  for (const s of r.steps) {
    for (const h of s.hooks) {
      if (!h.junit || h.junit.cases.length === 0) continue;
      const cases = h.junit.cases;
      suites.push({
        '@_name': `${r.campaign}.${s.name}.hook.${h.name}`,
        '@_tests': cases.length,
        '@_failures': cases.filter((c) => c.failed).length,
        '@_errors': 0,
        '@_time': (h.durationMs / 1000).toFixed(3),
        '@_timestamp': new Date(s.startMs).toISOString(),
        testcase: cases.map((c) => {
          const tc: Record<string, unknown> = { '@_classname': c.classname || `${r.campaign}.${s.name}.hook.${h.name}`, '@_name': c.name, '@_time': '0' };
          if (c.failed) tc['failure'] = { '@_message': c.message ?? 'failed', '@_type': 'HookTestFailed', '#text': c.message ?? 'failed' };
          return tc;
        }),
      });
    }
  }
  if (r.steps.length === 0 && r.error) {
    // The campaign could not start (pre-flight): one errored case so CI shows why.
    suites.push({
      '@_name': `${r.campaign}.preflight`,
      '@_tests': 1,
      '@_failures': 0,
      '@_errors': 1,
      '@_time': ((r.endedAtMs - r.startedAtMs) / 1000).toFixed(3),
      '@_timestamp': new Date(r.startedAtMs).toISOString(),
      testcase: [{ '@_classname': `${r.campaign}.preflight`, '@_name': 'pre-flight checks', '@_time': '0', error: { '@_message': r.error, '#text': r.error } }],
    });
  }
  const builder = new XMLBuilder({ ignoreAttributes: false, format: true, suppressEmptyNode: true });
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    testsuites: {
      '@_name': r.campaign,
      '@_tests': suites.reduce((n, s) => n + s.testcase.length, 0),
      '@_failures': suites.reduce((n, s) => n + s['@_failures'], 0),
      '@_errors': suites.reduce((n, s) => n + s['@_errors'], 0),
      testsuite: suites,
    },
  };
  return builder.build(doc) as string;
}
