//! posgate Expirenza callback adapter: takes Expirenza's pay-at-table operations and answers its callbacks (being built).
