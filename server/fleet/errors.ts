/** A refusal from a fleet operation: bad input or a state that forbids it. Nothing was changed. */
export class FleetError extends Error {
  constructor(
    readonly code: 'not-found' | 'conflict' | 'invalid' | 'unavailable' | 'forbidden',
    message: string,
  ) {
    super(message);
    this.name = 'FleetError';
  }
}
