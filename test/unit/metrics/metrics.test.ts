import { jest } from '@jest/globals';
import { createToolMetrics, percentile, startSummaryTimer } from '../../../shared/metrics/summary.js';

describe('tool metrics summary', () => {
  it('says so when nothing was recorded', () => {
    expect(createToolMetrics().summaryLine()).toBe('tools: no calls yet');
  });

  it('counts outcomes and reports nearest-rank p50/p95', () => {
    const m = createToolMetrics();
    for (let i = 1; i <= 20; i++)
      m.recordToolCall(i % 2 ? 'get_item' : 'search_items', i === 20 ? 'error' : 'success', i * 10);
    m.recordToolCall('update_item', 'denied', 0);
    m.recordToolCall('update_item', 'rate_limited', 0);
    // 22 durations: 0,0,10..200 → p50 = 11th = 90, p95 = 21st = 190
    expect(m.summaryLine()).toBe(
      'tools: 22 calls (success 19, error 1, denied 1, rate_limited 1); p50 90ms p95 190ms over last 22; top get_item 10, search_items 10, update_item 2',
    );
    expect(m.total()).toBe(22);
  });

  it('keeps latency for the last N calls only, but counts everything', () => {
    const m = createToolMetrics({ window: 4 });
    for (const d of [1000, 1000, 1000, 1000, 1, 2, 3, 4]) m.recordToolCall('t', 'success', d);
    expect(m.summaryLine()).toBe(
      'tools: 8 calls (success 8, error 0, denied 0, rate_limited 0); p50 2ms p95 4ms over last 4; top t 8',
    );
    m.reset();
    expect(m.summaryLine()).toBe('tools: no calls yet');
  });

  it('percentile handles edges and bad durations are clamped', () => {
    expect(percentile([], 50)).toBe(0);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([1, 2, 3, 4], 100)).toBe(4);
    const m = createToolMetrics();
    m.recordToolCall('t', 'success', Number.NaN);
    m.recordToolCall('t', 'success', -5);
    expect(m.summaryLine()).toContain('p50 0ms p95 0ms');
  });

  it('the periodic printer prints only when there were new calls', () => {
    jest.useFakeTimers();
    try {
      const m = createToolMetrics();
      const lines: string[] = [];
      const stop = startSummaryTimer((l) => lines.push(l), 1000, m);
      jest.advanceTimersByTime(1000);
      expect(lines).toEqual([]);
      m.recordToolCall('get_item', 'success', 12);
      jest.advanceTimersByTime(1000);
      jest.advanceTimersByTime(1000);
      expect(lines).toEqual([
        'tools: 1 calls (success 1, error 0, denied 0, rate_limited 0); p50 12ms p95 12ms over last 1; top get_item 1',
      ]);
      stop();
      m.recordToolCall('get_item', 'success', 12);
      jest.advanceTimersByTime(5000);
      expect(lines).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
