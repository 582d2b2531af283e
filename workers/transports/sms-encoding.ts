/**
 * SMS text on the wire (SMPP 3.4, 3GPP TS 23.040): UCS-2 (data_coding 8) for everything — Chinese
 * needs it, and one encoding keeps the segment arithmetic and its tests simple (a pure-ASCII text
 * costs up to 2.3× more segments than GSM-7 would; Qiao's texts are Chinese first).
 *
 * One segment carries 140 octets: 70 UCS-2 units alone, 67 with the 6-octet concatenation header
 * (UDH: IEI 0x00, 8-bit reference, total, sequence). A surrogate pair is never split across
 * segments. More segments than the limit is refused (QIAO_SMS_TOO_LONG) before anything is sent.
 */
import { QiaoError } from '../../src/errors/codes.ts';

export const DATA_CODING_UCS2 = 0x08;
export const ESM_CLASS_UDHI = 0x40;
export const ESM_CLASS_RECEIPT = 0x04;
const SINGLE_UNITS = 70;
const PART_UNITS = 67;
/** The 8-bit reference allows 255 parts; carriers allow far fewer. */
export const MAX_SEGMENTS_CEILING = 255;

export interface SmsSegment {
  /** UDH + UCS-2 text: the short_message octets. */
  shortMessage: Buffer;
  /** esm_class bit 0x40 when a UDH is present. */
  udhi: boolean;
}

/** Splits into UTF-16 chunks of at most `n` units, never between the halves of a surrogate pair. */
function chunks(text: string, n: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(i + n, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}

function ucs2(s: string): Buffer {
  const b = Buffer.from(s, 'utf16le');
  return b.swap16();
}

/** How many segments `text` needs. */
export function segmentCount(text: string): number {
  return text.length <= SINGLE_UNITS ? 1 : chunks(text, PART_UNITS).length;
}

/**
 * The submit_sm bodies for `text`. `ref` is the concatenation reference (0–255), the same for every
 * part of one message and different between messages to one phone.
 * Throws QIAO_SMS_TOO_LONG past `maxSegments`, QIAO_SMS_EMPTY for an empty text.
 */
export function encodeSms(text: string, maxSegments: number, ref: number): SmsSegment[] {
  if (!text) throw new QiaoError('QIAO_SMS_EMPTY', 'SMS text is empty');
  if (text.length <= SINGLE_UNITS) return [{ shortMessage: ucs2(text), udhi: false }];
  const parts = chunks(text, PART_UNITS);
  if (parts.length > Math.min(maxSegments, MAX_SEGMENTS_CEILING)) {
    throw new QiaoError('QIAO_SMS_TOO_LONG', `SMS needs ${parts.length} segments; at most ${maxSegments} are allowed (${maxSegments * PART_UNITS} characters)`);
  }
  return parts.map((p, i) => ({
    shortMessage: Buffer.concat([Buffer.from([0x05, 0x00, 0x03, ref & 0xff, parts.length, i + 1]), ucs2(p)]),
    udhi: true,
  }));
}

/** Decodes one short_message (tests, the outbox): its UDH (if any) and text. */
export function decodeSegment(shortMessage: Buffer, udhi: boolean, dataCoding: number): { ref?: number; total?: number; seq?: number; text: string } {
  let body = shortMessage;
  let head: { ref?: number; total?: number; seq?: number } = {};
  if (udhi && body.length) {
    const udhl = body[0];
    const udh = body.subarray(1, 1 + udhl);
    // IEI 0x00: 8-bit reference concatenation; IEI 0x08: 16-bit.
    for (let i = 0; i + 1 < udh.length; i += 2 + udh[i + 1]) {
      if (udh[i] === 0x00) head = { ref: udh[i + 2], total: udh[i + 3], seq: udh[i + 4] };
      if (udh[i] === 0x08) head = { ref: udh.readUInt16BE(i + 2), total: udh[i + 4], seq: udh[i + 5] };
    }
    body = body.subarray(1 + udhl);
  }
  const text = dataCoding === DATA_CODING_UCS2 ? Buffer.from(body).swap16().toString('utf16le') : body.toString('latin1');
  return { ...head, text };
}

/** E.164 without '+', as SMSCs take it with TON 1 (international), NPI 1 (ISDN). */
export function smppAddress(phone: string): string {
  return phone.replace(/^\+/, '');
}
