"""asgibridge's additions on top of the bridges: cooperative cancellation,
`timeout`, and the iterator bridges.

Imports `bridge` and the rooms below it.
"""
