"""Every closed form of the course once (formulas), the fits of models to measurements
(fits), and the formula widgets (views). Imports only ``core``."""
