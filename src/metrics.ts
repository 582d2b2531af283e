/** Prometheus metrics, one registry per app instance (no global default registry). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  connections: Gauge<'transport'>;
  deliveries: Counter<'transport'>;
  publishes: Counter<'family' | 'outcome'>;
  publishLatency: Histogram<'family'>;
  slowConsumers: Counter<'transport'>;
  recoveries: Counter<'outcome'>;
  /** Relay of committed publications to the bus and queue (src/hub/relay.ts). */
  relay: Counter<'outcome'>;
  /** Holes in a channel's live stream that the hub filled (or could not fill) on this node. */
  liveGaps: Counter<'outcome'>;
  /** Price-alert notifications published by this node's alert engine (src/domain/alert-engine.ts). */
  alertFirings: Counter;
  /** Publications refused by the DLP dictionary on this node (src/compliance/dlp.ts). */
  dlpBlocks: Counter;
}

export function createMetrics(nodeId: string, withDefaults = true): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'qiao_process_' });
  return {
    registry,
    connections: new Gauge({ name: 'qiao_connections', help: 'Open socket connections', labelNames: ['transport'], registers: [registry] }),
    deliveries: new Counter({ name: 'qiao_deliveries_total', help: 'Publications handed to sockets', labelNames: ['transport'], registers: [registry] }),
    publishes: new Counter({ name: 'qiao_publishes_total', help: 'Publish attempts by outcome', labelNames: ['family', 'outcome'], registers: [registry] }),
    publishLatency: new Histogram({
      name: 'qiao_publish_latency_seconds',
      help: 'Time from publish request to the publication being committed and relayed to the bus',
      labelNames: ['family'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    slowConsumers: new Counter({ name: 'qiao_slow_consumer_disconnects_total', help: 'Connections cut off for not reading', labelNames: ['transport'], registers: [registry] }),
    recoveries: new Counter({ name: 'qiao_recoveries_total', help: 'Subscribe-with-offset recoveries by outcome', labelNames: ['outcome'], registers: [registry] }),
    relay: new Counter({
      name: 'qiao_relay_total',
      help: 'Committed publications relayed to the bus: ok, filled (the bus was behind), swept (left by a failed relay), failed (left for the sweeper)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    liveGaps: new Counter({ name: 'qiao_live_gaps_total', help: 'Holes in a live channel stream, by how they were closed', labelNames: ['outcome'], registers: [registry] }),
    alertFirings: new Counter({ name: 'qiao_alert_firings_total', help: 'Price alerts that fired and whose notification this node published', registers: [registry] }),
    dlpBlocks: new Counter({ name: 'qiao_dlp_blocks_total', help: 'Publications refused by a DLP block term on this node', registers: [registry] }),
  };
}
