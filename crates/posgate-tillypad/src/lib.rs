//! posgate POS adapter for Tillypad XL (/pay-guest): PosAdapter gRPC service (being built).
