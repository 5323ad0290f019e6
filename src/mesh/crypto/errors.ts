/** Why a peer was refused: a wrong or missing password, a bad frame, a replay. */
import { WeftError } from '../../errors.js';

export class MeshAuthError extends WeftError {
  constructor(message: string) {
    super('WEFT_PERMISSION', `mesh authentication: ${message}`, { field: 'password' });
  }
}
