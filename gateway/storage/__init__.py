"""Store backends implementing gateway.core.ports.Store."""
