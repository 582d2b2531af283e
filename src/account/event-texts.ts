/**
 * The Chinese title and body of each account event (inbox, email and push show them; the web client
 * renders the structured fields itself in either language). Times in Beijing time.
 */
import { localParts } from '../domain/zoned-time.ts';
import type { SecuritiesDirectory } from '../domain/securities.ts';

const TZ = 'Asia/Shanghai';

export function beijingTime(iso: string): string {
  const p = localParts(new Date(iso), TZ);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${p.year}-${two(p.month)}-${two(p.day)} ${two(p.hour)}:${two(p.minute)}`;
}

// One formatter: `toLocaleString` with options builds a new Intl.NumberFormat per call, which was the
// largest cost of an order fill's text.
const YUAN = new Intl.NumberFormat('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const yuan = (n: number) => YUAN.format(n);

export function securityLabel(dir: SecuritiesDirectory, symbol: string): string {
  const s = dir.get(symbol);
  return s ? `${s.name.zh} ${symbol}` : symbol;
}

export interface OrderFacts {
  status: 'filled' | 'partly-filled' | 'rejected' | 'cancelled';
  side: 'buy' | 'sell';
  symbol: string;
  qty: number;
  filledQty?: number;
  price?: number;
  reason?: string;
  orderId: string;
}

export function orderText(dir: SecuritiesDirectory, o: OrderFacts): { title: string; body: string } {
  const side = o.side === 'buy' ? '买入' : '卖出';
  const sec = securityLabel(dir, o.symbol);
  const price = o.price !== undefined ? `，价格 ${yuan(o.price)} 元` : '';
  switch (o.status) {
    case 'filled':
      return { title: `成交回报：${side} ${sec} ${o.filledQty ?? o.qty} 股`, body: `委托 ${o.orderId} 已全部成交${price}。` };
    case 'partly-filled':
      return { title: `部分成交：${side} ${sec} ${o.filledQty ?? 0}/${o.qty} 股`, body: `委托 ${o.orderId} 部分成交${price}，其余仍在委托中。` };
    case 'rejected':
      return { title: `委托被拒：${side} ${sec} ${o.qty} 股`, body: `委托 ${o.orderId} 未被接受${o.reason ? `：${o.reason}` : ''}。` };
    case 'cancelled':
      return { title: `撤单成功：${side} ${sec} ${o.qty} 股`, body: `委托 ${o.orderId} 已撤销${o.reason ? `（${o.reason}）` : ''}。` };
  }
}

export function marginCallText(amount: number, deadline: string): { title: string; body: string } {
  return {
    title: `追加保证金通知：请于 ${beijingTime(deadline)} 前补足 ${yuan(amount)} 元`,
    body: `您的信用账户维持担保比例低于要求。请在 ${beijingTime(deadline)}（北京时间）前追加担保物或补足 ${yuan(amount)} 元，否则可能被强制平仓。`,
  };
}

export function liquidationText(dir: SecuritiesDirectory, symbol?: string, deadline?: string, ratio?: number): { title: string; body: string } {
  const what = symbol ? `（${securityLabel(dir, symbol)}）` : '';
  return {
    title: `强制平仓预警${what}`,
    body: `您的账户${ratio !== undefined ? `维持担保比例为 ${ratio}%，` : ''}已触及平仓线${deadline ? `，如未在 ${beijingTime(deadline)}（北京时间）前处理` : ''}，将被强制平仓。请尽快联系您的客户经理。`,
  };
}

export function fundsText(direction: 'in' | 'out', amount: number, balance?: number): { title: string; body: string } {
  return {
    title: `${direction === 'in' ? '资金转入' : '资金转出'} ${yuan(amount)} 元`,
    body: balance !== undefined ? `可用资金余额 ${yuan(balance)} 元。` : '',
  };
}
