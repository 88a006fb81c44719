"""Times one CycleGAN training iteration in PyTorch, to compare with `cyclegan-train bench`.

Not part of the product (nothing in CycleGanEdge needs Python). Written for this comparison:
the same step as CycleGanModel.Step - G_A/G_B forward, identity, GAN and cycle losses, backward,
Adam step over both generators; then both discriminators on real vs pooled fakes (lsgan), backward,
Adam step - with resnet generators and 70x70 PatchGAN discriminators, instance norm, no dropout.

    /usr/bin/python3 benchmarks/pytorch_step.py --netG resnet_9blocks --crop-size 256 --iters 20 --threads 2
    cyclegan-train bench --netG resnet_9blocks --crop-size 256 --iters 20 --threads 2 --json
"""
import argparse, itertools, json, os, platform, random, statistics, time
import torch
import torch.nn as nn


def resnet_generator(nc_in, nc_out, ngf, blocks):
    norm = lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(nc_in, ngf, 7, bias=True), norm(ngf), nn.ReLU(True)]
    ch = ngf
    for _ in range(2):
        layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1, bias=True), norm(ch * 2), nn.ReLU(True)]
        ch *= 2

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3, bias=True), norm(ch), nn.ReLU(True),
                                            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3, bias=True), norm(ch))

        def forward(self, x):
            return x + self.conv_block(x)

    layers += [Block() for _ in range(blocks)]
    for _ in range(2):
        layers += [nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1, bias=True), norm(ch // 2), nn.ReLU(True)]
        ch //= 2
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, nc_out, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patch_discriminator(nc, ndf, n_layers=3):
    norm = lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    layers = [nn.Conv2d(nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2 ** n, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=True), norm(ndf * mult), nn.LeakyReLU(0.2, True)]
    prev, mult = mult, min(2 ** n_layers, 8)
    layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=True), norm(ndf * mult), nn.LeakyReLU(0.2, True)]
    layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
    return nn.Sequential(*layers)


class Pool:
    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, images):
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.random() > 0.5:
                i = random.randint(0, self.size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--netG", default="resnet_9blocks", choices=["resnet_9blocks", "resnet_6blocks"])
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--crop-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--no-mkldnn", action="store_true", help="turn oneDNN off, as cyclegan-train does on the CPU")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.mkldnn.enabled = not a.no_mkldnn
    torch.manual_seed(0)
    blocks = 9 if a.netG == "resnet_9blocks" else 6
    g_a, g_b = resnet_generator(3, 3, a.ngf, blocks), resnet_generator(3, 3, a.ngf, blocks)
    d_a, d_b = patch_discriminator(3, a.ndf), patch_discriminator(3, a.ndf)
    opt_g = torch.optim.Adam(itertools.chain(g_a.parameters(), g_b.parameters()), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(itertools.chain(d_a.parameters(), d_b.parameters()), lr=2e-4, betas=(0.5, 0.999))
    pool_a, pool_b = Pool(50), Pool(50)
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    gan = lambda pred, real: mse(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))
    real_a = torch.rand(a.batch_size, 3, a.crop_size, a.crop_size) * 2 - 1
    real_b = torch.rand(a.batch_size, 3, a.crop_size, a.crop_size) * 2 - 1

    times = []
    for i in range(a.warmup + a.iters):
        start = time.perf_counter()
        fake_b, fake_a = g_a(real_a), g_b(real_b)
        for d in (d_a, d_b):
            d.requires_grad_(False)
        opt_g.zero_grad()
        loss_g = (l1(g_a(real_b), real_b) * 5 + l1(g_b(real_a), real_a) * 5
                  + gan(d_a(fake_b), True) + gan(d_b(fake_a), True)
                  + l1(g_b(fake_b), real_a) * 10 + l1(g_a(fake_a), real_b) * 10)
        loss_g.backward()
        opt_g.step()
        for d in (d_a, d_b):
            d.requires_grad_(True)
        opt_d.zero_grad()
        for d, real, fake in ((d_a, real_b, pool_b.query(fake_b)), (d_b, real_a, pool_a.query(fake_a))):
            ((gan(d(real), True) + gan(d(fake.detach()), False)) * 0.5).backward()
        opt_d.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - start)

    print(json.dumps({
        "framework": f"PyTorch {torch.__version__}", "net_g": a.netG, "net_d": "basic", "crop_size": a.crop_size,
        "batch_size": a.batch_size, "iters": a.iters, "warmup": a.warmup, "mkldnn": torch.backends.mkldnn.enabled,
        "seconds_per_iter_mean": statistics.mean(times), "seconds_per_iter_median": statistics.median(times),
        "seconds_per_iter_min": min(times), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
        "os": platform.platform(),
    }, indent=2))


if __name__ == "__main__":
    main()
