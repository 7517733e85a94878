"""HarDNet: harmonic dense blocks where layer k reads only the layers k - 2^n, and odd layers form the output."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 24
GROWTH = 12
DEPTH = 4
STAGES = 3
KERNEL = 3
ACTIVATION = nn.ReLU
NORM = nn.BatchNorm2d
DOWNSAMPLE = nn.AvgPool2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class ConvBlock(nn.Module):
    def __init__(self, in_channels, channels, kernel_size=KERNEL, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        self.norm = NORM(channels)
        self.act = ACTIVATION()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class HarmonicBlock(nn.Module):
    def __init__(self, in_channels, channels, depth):
        super().__init__()
        widths = [in_channels]
        self.links = []
        self.layers = nn.ModuleList()
        for k in range(1, depth + 1):
            link = [k - 2 ** n for n in range(k.bit_length()) if k % 2 ** n == 0]
            self.links.append(link)
            self.layers.append(ConvBlock(sum(widths[j] for j in link), channels))
            widths.append(channels)
        self.outputs = [k for k in range(1, depth + 1) if k % 2 == 1 or k == depth]
        self.out_channels = channels * len(self.outputs)

    def forward(self, x):
        features = [x]
        for link, layer in zip(self.links, self.layers):
            features.append(layer(torch.cat([features[j] for j in link], 1)))
        return torch.cat([features[k] for k in self.outputs], 1)


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        size = min(in_shape[2], in_shape[3])
        stride = 2 if size >= 16 else 1
        size = size // stride
        channels = WIDTH
        self.stem = ConvBlock(in_channels, channels, KERNEL, stride)
        layers = []
        for stage in range(STAGES):
            if stage > 0 and size >= 4:
                layers.append(DOWNSAMPLE(2))
                size = size // 2
            block = HarmonicBlock(channels, GROWTH * 2 ** stage, DEPTH)
            layers.append(block)
            layers.append(ConvBlock(block.out_channels, WIDTH * 2 ** (stage + 1), 1))
            channels = WIDTH * 2 ** (stage + 1)
        self.body = nn.Sequential(*layers)
        self.pool = POOL(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(channels, num_classes))

    def forward(self, x):
        x = self.body(self.stem(x))
        return self.head(self.pool(x))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
