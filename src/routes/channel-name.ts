/**
 * Channel names in REST routes: the schema only says "a string"; whether it is a channel name (empty,
 * longer than 128 characters, outside its family's grammar, unknown family) is decided by the channel
 * catalogue (channels/catalogue.ts resolveChannel), so REST answers QIAO_CHANNEL_BAD_NAME /
 * QIAO_CHANNEL_UNKNOWN_FAMILY exactly as both sockets do, never a schema QIAO_BAD_REQUEST.
 */

/** A channel name in a body or a path; lengths and grammar are left to the catalogue. */
export const ChannelNameSchema = {
  type: 'string',
  description: 'Channel name, e.g. research.macro (at most 128 characters; see docs/protocol.md#channels)',
} as const;

/** Path parameters `{ channel }`. */
export const ChannelNameParam = {
  type: 'object',
  properties: { channel: ChannelNameSchema },
  required: ['channel'],
} as const;
