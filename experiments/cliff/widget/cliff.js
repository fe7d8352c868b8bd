// cliff widget (being written)
