from prover_data.cli import main

main(prog_name="prover-data")
