/**
 * Write every report into `outDir`: summary.txt, result.json, junit.xml, report.html.
 * Creates the folder; overwrites files of the same name. Returns the paths written.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CampaignResult } from '../result.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderJunit } from './junit.js';
import { renderSummary } from './terminal.js';

export interface ReportPaths {
  summary: string;
  json: string;
  junit: string;
  html: string;
}

export async function writeReports(r: CampaignResult, outDir: string): Promise<ReportPaths> {
  await mkdir(outDir, { recursive: true });
  const paths: ReportPaths = {
    summary: join(outDir, 'summary.txt'),
    json: join(outDir, 'result.json'),
    junit: join(outDir, 'junit.xml'),
    html: join(outDir, 'report.html'),
  };
  await writeFile(paths.summary, renderSummary(r));
  await writeFile(paths.json, renderJson(r));
  await writeFile(paths.junit, renderJunit(r));
  await writeFile(paths.html, renderHtml(r));
  return paths;
}
