/**
 * A Chart.js chart in a <canvas> with a caption and an aria-label. Chart.js because one small, well-kept
 * library draws both the trend line and the bars with the same API; it is tree-shaken here (only the
 * line and bar controllers, their elements, two scales, legend and tooltip are registered), where
 * uPlot would need a bars plugin. The canvas is a picture only: each chart has its data table beside it
 * (the caller's), with the same numbers, for screen readers and for reading exact values.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';

Chart.register(LineController, LineElement, PointElement, BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

export const COLORS = { p50: '#2563eb', p90: '#c2410c', answered: '#15803d', refused: '#b91c1c', complaints: '#7c3aed' } as const;

export function ChartCanvas(props: { config: ChartConfiguration; label: string; caption: string; testid: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    // Drawn again whole when the data or language changes: the charts are small and a fresh chart
    // avoids Chart.js's in-place update diffing datasets of another shape.
    const chart = new Chart(canvas, { ...props.config, options: { animation: false, responsive: true, maintainAspectRatio: false, ...props.config.options } });
    return () => chart.destroy();
  }, [props.config]);
  return (
    <figure class="sq-chart" data-testid={props.testid}>
      <figcaption class="sq-chart__caption">{props.caption}</figcaption>
      <div class="sq-chart__box">
        <canvas ref={ref} role="img" aria-label={props.label}>
          {props.label}
        </canvas>
      </div>
    </figure>
  );
}
