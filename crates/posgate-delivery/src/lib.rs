//! posgate POS adapter for r_k Delivery (REST): PosAdapter gRPC service (being built).
